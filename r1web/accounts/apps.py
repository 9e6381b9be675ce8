from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "r1web.accounts"
    label = "accounts"

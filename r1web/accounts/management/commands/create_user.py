"""``manage.py create_user NAME --role operator``: a user with a role, ready to sign in."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction

from r1web.accounts.roles import ORDER, role_grant
from r1web.errors import R1WebCommand


class Command(R1WebCommand):
    help = "Create a user (or reset an existing one) with a role, and print the login."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=ORDER, default="viewer")
        parser.add_argument("--password", help="default: a random one, printed once")
        parser.add_argument("--if-missing", action="store_true",
                            help="leave an existing user (and its password) as it is")

    @transaction.atomic
    def handle(self, username, role, password=None, if_missing=False, **options):
        if not username.strip():
            raise CommandError("a username cannot be empty")
        if if_missing and get_user_model().objects.filter(username=username).exists():
            self.stdout.write(f"user {username!r} exists; sign in with its password")
            return
        password = password or secrets.token_urlsafe(12)
        user, created = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
        role_grant(user=user, role=role)
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {role} {username!r}")
        self.stdout.write(f"login: {username}  password: {password}")

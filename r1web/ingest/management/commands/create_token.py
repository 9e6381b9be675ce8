"""``manage.py create_token USER``: a new API token, printed as the last line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from r1web.accounts.roles import role_of
from r1web.errors import R1WebCommand
from r1web.ingest.services import token_create


class Command(R1WebCommand):
    help = "Make an API token for a user (training scripts log runs with it) and print it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="what the token is for")

    def handle(self, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r} (manage.py create_user makes one)")
        token, secret = token_create(user=user, name=name)
        self.stderr.write(f"{token} for {username} ({role_of(user)}); it is shown only now")
        self.stdout.write(secret)

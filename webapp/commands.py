"""`flask users ...`: create users, issue and revoke their tokens."""

import click
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.models import ApiToken, User
from webapp.models.user import normalize_email

users = AppGroup("users", help="Manage users and their API tokens.")


def _existing_user(email):
    user = User.by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    return user


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
def create_user(email, admin):
    """Create a user and print a new token (the last line is the bare token)."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or " " in email:
        raise click.ClickException(f"{email!r} is not an email address.")
    if User.by_email(email) is not None:
        raise click.ClickException(f"A user with email {email} exists already.")
    user = User(email=email, role="admin" if admin else "user")
    db.session.add(user)
    token = ApiToken.issue(user)
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} ({user.id}). Token:", err=True)
    click.echo(token)


@users.command("token")
@click.argument("email")
def new_token(email):
    """Print another new token for the user (the last line is the bare token)."""
    user = _existing_user(email)
    token = ApiToken.issue(user)
    db.session.commit()
    click.echo(f"New token for {user.email}:", err=True)
    click.echo(token)


@users.command("revoke")
@click.argument("email")
def revoke_tokens(email):
    """Revoke every token of the user."""
    user = _existing_user(email)
    count = ApiToken.revoke_all(user)
    db.session.commit()
    click.echo(f"Revoked {count} token(s) of {user.email}.")

"""`flask users ...`: create users, issue and revoke their tokens; `flask logs ...`: seed the
log with realistic rows, recount its rollups; `flask alerts check`: evaluate the alert rules."""

import time

import click
from flask import current_app
from flask.cli import AppGroup
from marshmallow import ValidationError
from tqdm import tqdm

from webapp.api.log_schemas import AllLogsFilters
from webapp.extensions import db
from webapp.models import ApiToken, User
from webapp.models.user import normalize_email
from webapp.services import alerts as alert_rules, erasure, log_export, log_queries, log_retention
from webapp.services import log_rollups, log_seed
from webapp.services.log_queries import LogFilters

users = AppGroup("users", help="Manage users and their API tokens.")
logs = AppGroup("logs", help="Seed the LLM call log and keep its rollups.")
alerts = AppGroup("alerts", help="Evaluate the alert rules.")


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


@users.command("erase")
@click.argument("email")
def erase_user(email):
    """Remove the user and everything of theirs (logs, jobs, workouts, plans, revisions,
    tokens); prints what was removed."""
    counts = erasure.erase(_existing_user(email))
    click.echo(f"Erased {email} ({counts['user_id']}): {counts['log_rows']} log rows, "
               f"{counts['jobs']} jobs, {counts['workouts']} workouts, {counts['training_plans']} "
               f"training plans, {counts['revisions']} revisions, {counts['tokens']} tokens.")


@logs.command("purge")
def purge_logs():
    """Remove the log rows older than LOG_RETENTION_DAYS now; the last line is the number of
    rows removed (0, with a note why, when LOG_RETENTION_DAYS is unset)."""
    days = current_app.config.get("LOG_RETENTION_DAYS")
    if not days:
        click.echo("LOG_RETENTION_DAYS is not set, so every row is kept; nothing removed.",
                   err=True)
        click.echo(0)
        return
    purged = log_retention.purge(days)
    click.echo(f"Removed {purged.rows} rows older than {days} days "
               f"({purged.partitions} partitions dropped whole).", err=True)
    click.echo(purged.rows)


@logs.command("seed")
@click.option("--rows", type=click.IntRange(min=1), required=True, help="How many rows to add.")
@click.option("--users", "user_count", type=click.IntRange(min=1), default=2000, show_default=True,
              help="How many users the calls come from (a few heavy ones, a long tail).")
@click.option("--days", type=click.IntRange(min=1, max=3650), default=90, show_default=True,
              help="How many days back the calls spread.")
@click.option("--seed", "random_seed", type=int, default=None, help="Make the same rows again.")
def seed_logs(rows, user_count, days, random_seed):
    """Add realistic log rows through COPY, with a progress bar; prints rows/s."""
    started = time.monotonic()
    with tqdm(total=rows, unit="rows", unit_scale=True, desc="Seeding llm_call_logs") as bar:
        written = log_seed.seed(rows, user_count, days, current_app.config["LLM_PRICES"],
                                progress=bar.update, seed=random_seed)
    elapsed = time.monotonic() - started
    click.echo(f"Seeded {written} rows in {elapsed:.1f} s ({written / elapsed:,.0f} rows/s).")


@logs.command("rebuild-rollups")
def rebuild_rollups():
    """Recount the rollups from the rows: needed only after rows were loaded with the log
    table's triggers disabled (e.g. pg_restore --disable-triggers). Prints the rows counted."""
    started = time.monotonic()
    counted = log_rollups.rebuild()
    click.echo(f"Recounted the rollups over {counted} rows in {time.monotonic() - started:.1f} s.")


@alerts.command("check")
def check_alerts():
    """Evaluate every alert rule now, as the workers do; one line per rule:
    `<name> ok|firing <value>` (events are made for changes of state, as by the workers)."""
    for evaluation in alert_rules.evaluate_every_rule():
        value = "null" if evaluation.value is None else f"{evaluation.value:.12g}"
        click.echo(f"{evaluation.rule.name} {alert_rules.shown_state(evaluation.rule)} {value}")


@logs.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The file to write.")
@click.option("--user-id", default=None, help="Only this user's calls.")
@click.option("--endpoint-name", default=None)
@click.option("--llm-operation-type", default=None)
@click.option("--success", type=click.BOOL, default=None, help="true or false.")
@click.option("--start-date", default=None,
              help="Only calls at or after this date or date-time (ISO 8601, UTC unless it "
                   "names an offset), as the route's start_date.")
@click.option("--end-date", default=None,
              help="Only calls up to this date (the whole day) or date-time (inclusive), as "
                   "the route's end_date.")
def export_logs(fmt, output, user_id, endpoint_name, llm_operation_type, success, start_date,
                end_date):
    """Write what GET /llm-logs/export serves to a file, with a progress bar."""
    from webapp.api.log_exports import log_objects

    filters = LogFilters(user_id=user_id, endpoint_name=endpoint_name,
                         llm_operation_type=llm_operation_type, success=success,
                         **_period(start_date, end_date))
    as_dict, columns = log_objects()
    total = log_queries.count_logs(filters)
    written = 0

    def progress(rows):
        nonlocal written
        written += rows
        bar.update(rows)

    stream = log_export.RowStream(filters)
    with open(output, "w", encoding="utf-8", newline="") as target, \
            tqdm(total=total, unit="rows", unit_scale=True, desc="Exporting llm_call_logs") as bar:
        for chunk in log_export.encode(stream, fmt, as_dict, columns, on_batch=progress):
            target.write(chunk)
    click.echo(f"Exported {written} rows to {output}.")


def _period(start_date, end_date):
    """{"since", "before"} of --start-date and --end-date, read as the export route reads them."""
    given = {name: value for name, value in (("start_date", start_date), ("end_date", end_date))
             if value is not None}
    try:
        loaded = AllLogsFilters().load(given)
    except ValidationError as exc:
        name, messages = next(iter(exc.messages.items()))
        raise click.BadParameter(" ".join(messages) if isinstance(messages, list) else messages,
                                 param_hint=f"--{name.replace('_', '-')}") from None
    return {"since": loaded["since"], "before": loaded["before"]}

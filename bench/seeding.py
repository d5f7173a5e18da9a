"""P5: `flask logs seed`'s rows per second, against a bare COPY of the same lines.

The seed writes into llm_call_logs with its indexes, partitions and rollups; the bare COPY
writes the same text into a table of the same columns with no index, trigger or partition,
which is about as fast as this PostgreSQL takes rows at all; a third COPY into a table with
the log's indexes alone shows what maintaining them costs. All in one scratch database.

    .venv/bin/python bench/seeding.py [--rows 500000]
"""

import argparse
import time
from datetime import datetime, timezone

from scratch import print_table, scratch_app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()

    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.services import log_seed

    with scratch_app() as app, app.app_context():
        started = time.monotonic()
        maker = log_seed.RowMaker(2000, app.config["LLM_PRICES"], seed=2)
        lines = maker.lines(args.rows, datetime.now(timezone.utc), 90 * 86400)
        generating = time.monotonic() - started

        # The log table's own columns, without (bare) and with its indexes (no partitions,
        # no triggers): what index maintenance alone costs a load.
        copies = {}
        for table, like in (("bare_copy", "INCLUDING DEFAULTS"),
                            ("indexed_copy", "INCLUDING DEFAULTS INCLUDING INDEXES")):
            with db.engine.begin() as conn:
                conn.execute(text(f"CREATE TABLE {table} (LIKE llm_call_logs {like})"))
            copies[table] = _copy(db, table, lines)
        bare = copies["bare_copy"]
        indexes = db.session.scalar(text(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'indexed_copy'"))

        started = time.monotonic()
        phases = {}
        log_seed.seed(args.rows, 2000, 90, app.config["LLM_PRICES"], seed=2, timings=phases)
        seeding = time.monotonic() - started
        count = db.session.scalar(text("SELECT count(*) FROM llm_call_logs"))
        assert count == args.rows, count

    print_table(["step", "rows", "seconds", "rows/s"], [
        ["generate the lines in Python", args.rows, f"{generating:.1f}", f"{args.rows / generating:,.0f}"],
        ["bare COPY (no index, trigger)", args.rows, f"{bare:.1f}", f"{args.rows / bare:,.0f}"],
        [f"COPY into a table with the log's {indexes} indexes", args.rows,
         f"{copies['indexed_copy']:.1f}", f"{args.rows / copies['indexed_copy']:,.0f}"],
        *[[f"  seed: {name}", args.rows, f"{seconds:.1f}", f"{args.rows / seconds:,.0f}"]
          for name, seconds in phases.items()],
        ["flask logs seed (all of it)", args.rows, f"{seeding:.1f}", f"{args.rows / seeding:,.0f}"],
    ])
    print(f"P5 seeding {args.rows / seeding:,.0f} rows/s vs bare COPY {args.rows / bare:,.0f} rows/s: "
          f"{bare / seeding:.2f}x its rate (target >= 100,000 rows/s)")


def _copy(db, table, lines):
    """Seconds to COPY the seed's lines into `table` and commit."""
    from webapp.services import log_seed

    raw = db.engine.raw_connection()
    try:
        names = ", ".join(f'"{column}"' for column in log_seed.COLUMNS)
        started = time.monotonic()
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            copy.write("\n".join(lines) + "\n")
        raw.commit()
        return time.monotonic() - started
    finally:
        raw.close()


if __name__ == "__main__":
    main()

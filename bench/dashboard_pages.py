"""P7: the dashboard's pages at size, rendered whole through the app (server time only).

Seeds --rows rows with `flask logs seed`'s generator, signs a heavy user, a typical user and an
admin in through the sign-in form, and times each page: the user's page at 7 and 30 days, its
second page by cursor, the admin's page for everyone and filtered to the heavy user, one log.
The scratch database is dropped at the end.

    .venv/bin/python bench/dashboard_pages.py [--rows 1000000] [--runs 20]
"""

import re
import time

from scratch import (
    accounts_for_seeded_rows, median, ms, percentile, print_table, scratch_app, seed,
    seeded_arguments,
)


def main():
    parser = seeded_arguments(__doc__, runs=20, users=True)
    args = parser.parse_args()

    with scratch_app() as app, app.app_context():
        seed(app, args.rows, args.users, seed=1)
        (heavy, typical), tokens = accounts_for_seeded_rows()
        clients = {}
        for name, token in tokens.items():
            client = app.test_client()
            form = client.get("/dashboard/").get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            signed_in = client.post("/dashboard/sign-in", data={"token": token, "csrf_token": csrf})
            assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[-600:]
            clients[name] = client
        first = clients["heavy"].get("/dashboard/?days=30").get_data(as_text=True)
        next_page = re.search(r'href="\?([^"]+)" data-action="next-page"', first)
        log_id = re.search(r'data-log-id="(\d+)"', first).group(1)
        pages = [
            (f"user page 7 days, heavy user ({heavy.n:,} calls in 30 days)", "heavy", "/dashboard/?days=7"),
            ("user page 30 days, heavy user", "heavy", "/dashboard/?days=30"),
            (f"user page 30 days, typical user ({typical.n:,} calls)", "typical", "/dashboard/?days=30"),
            ("admin page 7 days, everyone", "admin", "/dashboard/admin?days=7"),
            ("admin page 30 days, everyone", "admin", "/dashboard/admin?days=30"),
            ("admin page 30 days, one user", "admin", f"/dashboard/admin?days=30&user_id={heavy.user_id}"),
            ("one log", "heavy", f"/dashboard/logs/{log_id}"),
        ]
        if next_page:
            pages.insert(2, ("user page 30 days, next page by cursor", "heavy",
                             "/dashboard/?" + next_page.group(1).replace("&amp;", "&")))
        rows = []
        for name, who, path in pages:
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                response = clients[who].get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, (path, response.status_code)
            rows.append([name, ms(median(times)), ms(percentile(times, 0.95))])
    print_table(["page", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    main()

"""PostgreSQL's integer ranges: an id or offset outside them names no row and must not
reach a query (the driver would refuse it)."""

INT4_MAX = 2**31 - 1  # integer: workout, plan and revision ids
INT8_MAX = 2**63 - 1  # bigint: log ids, offsets

"""Numbers as people read them: thousands separators, %, ms, $; a dash for nothing."""

EMPTY = "–"


def count(value):
    """12345 → '12,345'."""
    return EMPTY if value is None else f"{int(value):,}"


def percent(value):
    """97.5 → '97.50 %'."""
    return EMPTY if value is None else f"{float(value):,.2f} %"


def ms(value):
    """1234.5 → '1,234.50 ms' (whole numbers without decimals)."""
    if value is None:
        return EMPTY
    value = float(value)
    return f"{value:,.0f} ms" if value.is_integer() else f"{value:,.2f} ms"


def usd(value):
    """0.001234 → '$0.001234'; a dollar or more to the cent."""
    if value is None:
        return EMPTY
    value = float(value)
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:,.6f}".rstrip("0").rstrip(".") if abs(value) >= 0.000001 else f"${value:.2e}"


def data_value(value):
    """A value as the `data-value` attribute carries it: the JSON number's text, '' for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


FILTERS = {"count": count, "percent": percent, "ms": ms, "usd": usd, "data_value": data_value}

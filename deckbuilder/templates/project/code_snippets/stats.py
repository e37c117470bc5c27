"""Helpers that the example cards show and import."""


# region mean
def mean(values: list[float]) -> float:
    """Return the arithmetic mean of `values`."""
    return sum(values) / len(values)


# endregion

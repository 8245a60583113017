import pytest

from inference import synthetic

# Tiny shots keep the suite quick on a CPU; fitting budgets shrink with them.
SIZE = dict(height=64, width=96, frames=6)
FAST = {
    "removal": {"iterations": 40, "channels": 16, "crop": 32, "batch": 4},
    "colour_match": {"iterations": 150, "size": 17},
    "exposure": {"iterations": 120},
    "deflicker": {"iterations": 120},
    "background": {"iterations": 30, "channels": 8, "crop": 32},
}


@pytest.fixture(scope="session")
def removal_case():
    return synthetic.removal_case(**SIZE)


@pytest.fixture(scope="session")
def colour_case():
    return synthetic.colour_case(**SIZE)


@pytest.fixture(scope="session")
def exposure_case():
    return synthetic.exposure_case(**SIZE)


@pytest.fixture(scope="session")
def deflicker_case():
    # "slow" is a few frames long: the shot must be long enough to tell flicker from a trend
    return synthetic.deflicker_case(**{**SIZE, "frames": 12})


@pytest.fixture(scope="session")
def green_screen_case():
    return synthetic.green_screen_case(**SIZE)


@pytest.fixture(scope="session")
def roto_case():
    return synthetic.roto_case(**SIZE)

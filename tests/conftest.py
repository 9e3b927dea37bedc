"""Every test gets its own cache folder, so no test reads or fills the user's cache."""

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path_factory.mktemp("cache")))

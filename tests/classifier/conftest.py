import pytest

from classifier.predict import TextClassifier
from classifier.training import build


@pytest.fixture(scope="session")
def model():
    """The real model, built from the corpus once per test session (about five seconds)."""
    return build()


@pytest.fixture(scope="session")
def clf(model):
    return TextClassifier(model)


@pytest.fixture(scope="session")
def model_path(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    model.save(path)
    return path

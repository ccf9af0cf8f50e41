"""Every scenario of features/ (the conformance suite of issue 5), run by pytest-bdd."""

from pytest_bdd import scenarios

scenarios(".")

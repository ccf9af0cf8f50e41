"""Every scenario of features/ (the conformance suite), run by pytest-bdd."""

from pytest_bdd import scenarios

scenarios(".")

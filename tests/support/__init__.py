"""Test doubles registered the normal way: runtimes and servers that stand in where a model
or an engine is not the thing under test."""

"""Test support: real service processes and local doubles of paid external APIs."""

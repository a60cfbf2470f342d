"""Local stand-ins for store platforms, served over real HTTP for the demo and tests."""

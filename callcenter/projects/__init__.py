"""Outbound call projects: lists of numbers to call, the rules to call them by, the attempts."""

"""callcenter: joins an Asterisk PBX to a call center's data."""

__version__ = "0.1.0"

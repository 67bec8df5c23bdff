"""Asterisk's durable logs (CEL, queue_log): following them and deriving call records."""

"""Reconnect: a Telegram bot that helps separated people reconcile without chasing."""

"""Slack listeners, one handler per module: commands/, actions/, views/, events/ (each with `register(app)`).

Every handler acks first, then does one step through `bot.listeners.common` or the conversation
engine, and replies with `bot.blocks`; slow steps become jobs (`workers.enqueue`).
"""

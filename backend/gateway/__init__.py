"""The chat gateway: the one door for buyer messages (docs/gateway.md).

It verifies who is talking, keeps the conversation log, forwards to Rasa while the bot has the
conversation and to the agent console while a person has it, and pushes case updates to buyers.
"""

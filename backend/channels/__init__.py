"""Messaging-app channels of the chat gateway (each a `backend.gateway.channels.ChannelAdapter`)."""

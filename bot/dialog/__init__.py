"""The bot framework a handler sees: routing, dispatch, context, rendering and forms.

It knows no feature and no HTTP: the inbound pipeline hands the dispatcher one message.
"""

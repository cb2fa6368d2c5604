"""The WeChat platform from our side: the API client and its access-token cache.

It decides nothing about what to send to whom.
"""

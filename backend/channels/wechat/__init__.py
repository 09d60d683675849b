"""The WeChat Official Account (公众号) channel: webhook, safe-mode crypto, customer-service API.

See docs/wechat.md. `backend.channels.wechat.app.install` wires it into the backend when
`WECHAT_ACCOUNTS` names at least one account; nothing here is imported otherwise.
"""

"""The local messaging sandbox: every UDN's default provider, so nothing leaves the machine until a
UDN configures real credentials. One process (`python -m devtools.processes sandbox`, started by
./dev up and by the tests from the same definition) serving:

- SMTP on SANDBOX_SMTP_PORT (aiosmtpd): the AUTH login is the UDN's schema, the password its
  sandbox password (campaigns.providers.base.sandbox_secret).
- HTTP on SANDBOX_HTTP_PORT (aiohttp), every path under /udn/<schema>/ (the UDN's outbox):
  WhatsApp Cloud API `POST /udn/<s>/<version>/<phone_number_id>/messages`; Zenvia SMS v2
  `POST /udn/<s>/v2/channels/sms/messages`; Google's OAuth2 token endpoint `POST /udn/<s>/token`
  and FCM HTTP v1 `POST /udn/<s>/v1/projects/<project>/messages:send`; Telegram Bot API
  `POST /udn/<s>/bot<token>/sendMessage`. Each checks the credentials and the request format as
  the real one does and answers in its format.

Each message received is kept in the UDN's `SandboxMessage` ("Caixa de saída"). Then, as the real
providers do, delivery statuses are called back to the URL the UDN set (`webhook_url`) or else to
its host's `/hooks/<channel>/` on SANDBOX_CALLBACK_URL, SANDBOX_STATUS_DELAY_SECONDS apart:
WhatsApp sent → delivered → read (signed X-Hub-Signature-256 with the app secret), Zenvia SENT →
DELIVERED (with the subscription's X-Webhook-Token header); Telegram and FCM have none.

Trouble on purpose (like a payment provider's test cards): a mobile 55 DD 9 0000 CCCC answers
CCCC = 0400 invalid, 0429 throttled, 0500 server error, 0001 accepted then failed/NOT_DELIVERED;
e-mail to reject…@ is refused (550), to tempfail…@ deferred (451); Telegram chat 400, 403, 429,
500; FCM tokens sandbox-invalid, sandbox-unregistered, sandbox-unavailable.
"""

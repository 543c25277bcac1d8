"""A real SMTP sink for alertmanager_api.rs: aiosmtpd on 127.0.0.1:PORT that prints each
message's envelope, subject and decoded text part to stdout, then keeps serving."""
import email
import sys
import threading
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(("plain",))
        print("MAIL FROM:", envelope.mail_from)
        print("RCPT TO:", ",".join(envelope.rcpt_tos))
        print("SUBJECT:", msg["Subject"])
        print("BODY-BEGIN")
        print(body.get_content() if body is not None else "")
        print("BODY-END", flush=True)
        return "250 Message accepted for delivery"


if __name__ == "__main__":
    c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
    c.start()
    print("READY", flush=True)
    threading.Event().wait()

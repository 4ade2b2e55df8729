# An SMTP server that requires AUTH (PLAIN/LOGIN) over plain text, delivering to a Maildir.
# Used by the e-mail channel tests to see a wrong password refused by a real SMTP implementation.
# usage: smtp_auth_server.py PORT USER PASSWORD MAILDIR
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, user, password, mbox = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False)


controller = Controller(Mailbox(mbox), hostname="127.0.0.1", port=port, authenticator=authenticate,
                        auth_required=True, auth_require_tls=False)
controller.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()

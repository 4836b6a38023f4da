"""How long a test waits for an event it expects: generous, because this machine is shared and
slow at times. A wait ends as soon as the event comes, so a generous deadline costs nothing when
the test passes; only a wrong system waits it out."""

EVENT_DEADLINE_SECONDS = 30.0

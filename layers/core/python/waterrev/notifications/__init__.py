"""Notifications (REV-006 催缴管理, IF-REV-013; IF-EXT-008 to SYS-010): the message pipeline every message
the system sends goes through, and the arrears reminder tasks built on it.

- `relay`: biz_message (the outbox, `waterrev.messages.enqueue`) -> the SQS queue, and the dead-letter sweep;
- `delivery`: the queue consumer's work: claim, call SYS-010 (`waterrev.adapters.sys010`), record;
- `results`: SYS-010's signed result callbacks, mapped to the four states;
- `dead_letters`: what the retries could not deliver, listed and replayed by a person;
- `reminders`: IF-REV-013's tasks: generated per office (set-based) or one by one, queried, verified;
- `rules`: the pure rules (strategies, quiet hours, backoff, result mapping).
"""

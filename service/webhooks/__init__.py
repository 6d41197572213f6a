"""Outbound webhooks: endpoints, the transactional outbox of events, and the dispatcher that signs
and delivers them."""

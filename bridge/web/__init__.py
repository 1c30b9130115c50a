"""HTTP pieces every adapter shares (REST, webhooks, chat): who is calling, the error
shape, the 202 answer, and the marshmallow fields and answer schemas more than one
adapter uses. Adapters import this package and the service layer, never each other."""

"""The alerter worker (queue ``alerter``)."""

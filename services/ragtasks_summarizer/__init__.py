"""The summarizer worker: rolling summaries of chat sessions (queue ``summarizer``)."""

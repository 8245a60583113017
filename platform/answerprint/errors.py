def error_text(error):
    """A ValidationError as one readable sentence for a page's message banner."""
    if hasattr(error, "error_dict"):
        return " ".join(str(message) for messages in error.message_dict.values() for message in messages)
    return " ".join(error.messages)

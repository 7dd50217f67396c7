"""Getting back into a case after losing its link: a one-time code sent by SMS to the phone
declared in the case, then a fresh access link (models, service, sms)."""

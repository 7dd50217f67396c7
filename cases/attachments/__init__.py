"""Files an applicant uploads with a supplement answer (issuer issue): stored in the case store."""

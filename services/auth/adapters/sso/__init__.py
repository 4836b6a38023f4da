"""Single sign-on providers: the adapters behind services.auth.domain.sso.SsoProvider."""

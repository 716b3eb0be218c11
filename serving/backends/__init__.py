"""Model runtimes behind one interface (`base.Backend`); `factory.create_backend` picks one."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with minimal cost, for DJANGO_ENV=test only.

    Hundreds of test fixtures hash passwords; at production cost that alone takes minutes. The
    algorithm and hash format are the same, so tests still exercise argon2 end to end.
    """

    time_cost = 1
    memory_cost = 64
    parallelism = 1

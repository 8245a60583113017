import factory
from django.contrib.auth import get_user_model

from answerprint.accounts.models import Membership, Production, Role
from answerprint.media.models import Shot, Version

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"Person Number{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProductionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Production

    code = factory.Sequence(lambda n: f"prod-{n}")
    title = factory.Sequence(lambda n: f"Production {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    production = factory.SubFactory(ProductionFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class ShotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shot

    production = factory.SubFactory(ProductionFactory)
    name = factory.Sequence(lambda n: f"SC{n:03d}_SH010")
    first_frame = 1001
    last_frame = 1048


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Version

    shot = factory.SubFactory(ShotFactory)
    number = factory.Sequence(lambda n: n + 1)
    first_frame = factory.SelfAttribute("shot.first_frame")


def member(production, role, **kwargs):
    """A user with `role` on `production`."""
    return MembershipFactory(production=production, role=role, **kwargs).user


def enrol_authenticator(user):
    """Give `user` a confirmed authenticator (as the two-step page would); returns its secret."""
    import pyotp
    from django.utils import timezone

    from answerprint.accounts import mfa
    from answerprint.accounts.models import TotpDevice

    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(user=user, defaults={
        "encrypted_secret": mfa._fernet().encrypt(secret.encode()).decode(), "confirmed_at": timezone.now(),
        "last_used_step": 0})
    return secret


def authenticator_code(user):
    """The code `user`'s authenticator shows now, setting one up first if they have none. Each
    code is accepted once, so a test that signs twice within one 30-second step is treated as if
    the next step had come."""
    import pyotp

    from answerprint.accounts import mfa
    from answerprint.accounts.models import TotpDevice

    if not TotpDevice.objects.filter(user=user).exists():
        enrol_authenticator(user)
    device = TotpDevice.objects.get(user=user)
    TotpDevice.objects.filter(pk=device.pk).update(last_used_step=0)
    return pyotp.TOTP(mfa._secret(device)).now()

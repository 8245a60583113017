from rest_framework import serializers

from .models import Membership, Production, Role


class ProductionSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Production
        fields = ["code", "title", "description", "fps_num", "fps_den", "created_at", "role"]
        read_only_fields = ["created_at", "role"]

    def get_role(self, production) -> str:
        return self.context.get("roles", {}).get(production.pk, "")


class ProductionUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    fps_num = serializers.IntegerField(min_value=1, required=False)
    fps_den = serializers.IntegerField(min_value=1, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    printed_name = serializers.CharField(source="user.printed_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "printed_name", "role", "expires_at", "revoked_at", "created_at"]
        read_only_fields = fields


class MembershipGrantSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, default="")

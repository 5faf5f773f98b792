"""The partner API's journeys (mounted under /api/v1/journeys/ through crm.api.base's registry):

- `POST /api/v1/journeys/{id}/enrollments/` (scope journeys:write): enrol one affiliate into a
  live journey with a manual trigger.
  Idempotent: with an `Idempotency-Key` the same key gives the same enrollment; without one an
  affiliate already in the journey gets its current enrollment back (200) instead of a second.
  201 with the enrollment when it was made.
- `GET /api/v1/journeys/{id}/enrollments/{enrollment}/` (scope journeys:read): where the
  affiliate stands (step, status, due time, what it waits for) and the steps it passed, with the
  branch taken and why.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Enrollment, EnrollmentStatus, Journey
from campaigns.selectors.journeys import enrollment_history
from campaigns.selectors.messages import affiliates_by_reference
from campaigns.services.journeys import enrollment_create_manual
from crm.api.base import (
    ERROR_RESPONSES,
    IDEMPOTENCY_HEADER,
    NOT_FOUND_RESPONSES,
    ApiError,
    ApiView,
    idempotent,
)
from crm.api.events import AffiliateRefSerializer
from crm.api.inputs import InputSerializer, JSONObjectField
from crm.models import ApiScope


class EnrollmentInSerializer(InputSerializer):
    affiliate = AffiliateRefSerializer()
    variables = JSONObjectField(
        required=False, allow_null=True, help_text="Values for the journey's messages (dados.<name>)."
    )


class StepLogSerializer(serializers.Serializer):
    step = serializers.CharField()
    at = serializers.DateTimeField()
    outcome = serializers.CharField(
        help_text="entered, sent, suppressed, held_out, waited, yes, no, arm, ..."
    )
    reason = serializers.CharField()


class EnrollmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    journey = serializers.IntegerField()
    version = serializers.IntegerField()
    affiliate_id = serializers.IntegerField()
    status = serializers.CharField(help_text="active, completed, converted, exited or failed")
    step = serializers.CharField()
    waiting_for = serializers.CharField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    held_out = serializers.BooleanField()
    entered_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    history = StepLogSerializer(many=True)


def enrollment_body(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "id": enrollment.pk,
        "journey": enrollment.journey_id,
        "version": enrollment.version.number,
        "affiliate_id": enrollment.affiliate_id,
        "status": enrollment.status,
        "step": enrollment.step.lstrip(">"),
        "waiting_for": enrollment.waiting_for or None,
        "due_at": enrollment.due_at,
        "held_out": enrollment.holdout,
        "entered_at": enrollment.entered_at,
        "finished_at": enrollment.finished_at,
        "history": enrollment_history(enrollment=enrollment),
    }


def _journey(pk: int) -> Journey:
    journey = Journey.objects.filter(pk=pk).first()
    if journey is None:
        raise ApiError(code="not_found", message=_("No such journey."), status_code=status.HTTP_404_NOT_FOUND)
    return journey


class EnrollmentCollectionView(ApiView):
    required_scopes = [ApiScope.JOURNEYS_WRITE]

    @extend_schema(
        operation_id="journey_enrollments_create",
        summary="Enrol an affiliate into a live journey (idempotent)",
        request=EnrollmentInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(EnrollmentSerializer, description="Enrolled."),
            200: OpenApiResponse(EnrollmentSerializer, description="Already enrolled: the enrollment."),
            422: OpenApiResponse(description="affiliate_not_found, affiliate_ambiguous or not_enrollable"),
            **ERROR_RESPONSES,
            **NOT_FOUND_RESPONSES,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._enrol(pk), on_error=self.handle_exception)

    def _enrol(self, pk: int) -> Response:
        journey = _journey(pk)
        data = EnrollmentInSerializer.parse(self.request.data)
        reference = data["affiliate"]
        found = affiliates_by_reference(**reference)
        if len(found) != 1:
            raise ApiError(
                code="affiliate_ambiguous" if found else "affiliate_not_found",
                message=_("No affiliate with this %(field)s.") % {"field": next(iter(reference))}
                if not found
                else _("Several affiliates have this CPF; use the affiliate id or external id."),
                field=f"affiliate.{next(iter(reference))}",
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        affiliate = found[0]
        key = self.request.headers.get("Idempotency-Key", "")
        if not key:
            active = Enrollment.objects.filter(
                journey=journey, affiliate=affiliate, status=EnrollmentStatus.ACTIVE
            ).first()
            if active is not None:
                return Response(enrollment_body(active), status=status.HTTP_200_OK)
        try:
            enrollment, created = enrollment_create_manual(
                journey=journey,
                affiliate=affiliate,
                key=key or f"once:{uuid.uuid4()}",
                context={"dados": data.get("variables") or {}},
            )
        except DjangoValidationError as error:
            raise ApiError(
                code="not_enrollable",
                message=" ".join(error.messages),
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            ) from error
        return Response(
            enrollment_body(enrollment), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class EnrollmentItemView(ApiView):
    required_scopes = [ApiScope.JOURNEYS_READ]

    @extend_schema(
        operation_id="journey_enrollments_retrieve",
        summary="An enrollment's position and the steps it passed, with the reasons",
        responses={200: EnrollmentSerializer, **ERROR_RESPONSES, **NOT_FOUND_RESPONSES},
    )
    def get(self, request: Request, pk: int, enrollment: int) -> Response:
        found = Enrollment.objects.select_related("version").filter(journey_id=pk, pk=enrollment).first()
        if found is None:
            raise ApiError(
                code="not_found", message=_("No such enrollment."), status_code=status.HTTP_404_NOT_FOUND
            )
        return Response(enrollment_body(found))

"""Phone number normalisation to E.164 with phonenumbers, with a fast path for the home region."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, ValidationResult
from phonenumbers.phonemetadata import PhoneMetadata

SMS_CAPABLE = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PERSONAL_NUMBER}
)
_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "a fixed line",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: "a VoIP number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.UAN: "a corporate number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
}
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong length",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}
_FORMATTING = str.maketrans("", "", " -().\u00a0\t")


class PhoneError(ValueError):
    """A number was rejected; the message says why."""


@dataclass(frozen=True, slots=True)
class _FastPath:
    country_code: str
    national_prefix: str
    mobile: re.Pattern[str]


class PhoneNormaliser:
    """Turns numbers as people write them into E.164, rejecting numbers that cannot get SMS."""

    def __init__(self, region: str = "KE"):
        self.region = region
        self._fast = self._build_fast_path(region)

    @staticmethod
    def _build_fast_path(region: str) -> _FastPath | None:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.mobile is None or not meta.mobile.national_number_pattern:
            return None
        return _FastPath(
            country_code=str(meta.country_code),
            national_prefix=meta.national_prefix or "",
            mobile=re.compile(meta.mobile.national_number_pattern),
        )

    def normalise(self, raw: str) -> str:
        """Return the E.164 form of `raw`, or raise PhoneError saying why it is unusable."""
        fast = self._fast
        if fast is not None:
            digits = raw.translate(_FORMATTING)
            cc = fast.country_code
            if digits.startswith("+"):
                candidates: tuple[str, ...] = (
                    (digits[1 + len(cc) :],) if digits.startswith(cc, 1) else ()
                )
            else:
                prefix = fast.national_prefix
                candidates = (
                    digits[len(prefix) :] if prefix and digits.startswith(prefix) else "",
                    digits[len(cc) :] if digits.startswith(cc) else "",
                    digits,
                )
            hit = None
            for national in candidates:
                if national and fast.mobile.fullmatch(national) and national.isdigit():
                    if hit is not None and hit != national:
                        hit = None  # ambiguous: let phonenumbers decide
                        break
                    hit = national
            else:
                if hit is not None:
                    return f"+{cc}{hit}"
        return self._slow(raw)

    def _slow(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise PhoneError("empty")
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            raise PhoneError(f"not a phone number ({exc._msg})") from None
        kind = phonenumbers.number_type(number)
        if kind == PhoneNumberType.UNKNOWN:
            reason = phonenumbers.is_possible_number_with_reason(number)
            raise PhoneError(_LENGTH_REASONS.get(reason, "not a valid number"))
        if kind not in SMS_CAPABLE:
            raise PhoneError(f"{_TYPE_NAMES.get(kind, 'not a mobile number')}, cannot receive SMS")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def try_normalise(self, raw: str) -> str | None:
        """E.164 or None, for callers that only need to know whether it is usable."""
        try:
            return self.normalise(raw)
        except PhoneError:
            return None

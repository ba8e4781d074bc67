<?php

declare(strict_types=1);

namespace StackGuard\Domain;

/**
 * Input rules shared by the HTML forms and the JSON API.
 */
final class Validator
{
    public const USERNAME_PATTERN = '/\A[A-Za-z0-9_.-]{3,64}\z/';
    public const PASSWORD_MIN_CHARS = 8;
    public const PASSWORD_MAX_CHARS = 4096;
    public const BODY_MAX_CHARS = 5000;

    /**
     * @param mixed $username
     */
    public static function usernameError($username): ?string
    {
        if (!is_string($username) || preg_match(self::USERNAME_PATTERN, $username) !== 1) {
            return 'username must be 3 to 64 characters of A-Z, a-z, 0-9, "_", "." or "-"';
        }
        return null;
    }

    /**
     * @param mixed $password
     */
    public static function passwordError($password): ?string
    {
        if (!is_string($password) || !mb_check_encoding($password, 'UTF-8') || strpos($password, "\0") !== false) {
            return 'password must be a string of valid UTF-8';
        }
        $length = mb_strlen($password, 'UTF-8');
        if ($length < self::PASSWORD_MIN_CHARS) {
            return sprintf('password must be at least %d characters', self::PASSWORD_MIN_CHARS);
        }
        if ($length > self::PASSWORD_MAX_CHARS) {
            return sprintf('password must be at most %d characters', self::PASSWORD_MAX_CHARS);
        }
        return null;
    }

    /**
     * Normalizes a message body (UTF-8, NFC, LF line ends, trimmed).
     *
     * @param mixed $body
     * @return array{0: string|null, 1: string|null} [normalized body, error]
     */
    public static function normalizeBody($body): array
    {
        if (!is_string($body) || !mb_check_encoding($body, 'UTF-8')) {
            return [null, 'body must be a string of valid UTF-8'];
        }
        $body = str_replace(["\r\n", "\r"], "\n", $body);
        $normalized = \Normalizer::normalize($body, \Normalizer::FORM_C);
        if (is_string($normalized)) {
            $body = $normalized;
        }
        $body = trim($body);
        if ($body === '') {
            return [null, 'body must not be empty'];
        }
        if (preg_match('/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/', $body) === 1) {
            return [null, 'body must not contain control characters'];
        }
        if (mb_strlen($body, 'UTF-8') > self::BODY_MAX_CHARS) {
            return [null, sprintf('body must be at most %d characters', self::BODY_MAX_CHARS)];
        }
        return [$body, null];
    }
}

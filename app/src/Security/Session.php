<?php

declare(strict_types=1);

namespace StackGuard\Security;

/**
 * PHP session for the HTML pages: login state, CSRF token, flash message.
 *
 * Cookie: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS.
 * Sessions are started only by HTML routes, never by /healthz or /api/*.
 */
final class Session
{
    public const COOKIE_NAME = 'stackguard_session';

    private const KEY_USER_ID = 'user_id';
    private const KEY_USERNAME = 'username';
    private const KEY_CSRF = 'csrf_token';
    private const KEY_FLASH = 'flash';

    private bool $https;

    private bool $started = false;

    public function __construct(bool $https)
    {
        $this->https = $https;
    }

    public function start(): void
    {
        if ($this->started) {
            return;
        }
        if (session_status() !== PHP_SESSION_ACTIVE) {
            $ok = session_start([
                'name' => self::COOKIE_NAME,
                'use_strict_mode' => 1,
                'use_cookies' => 1,
                'use_only_cookies' => 1,
                'use_trans_sid' => 0,
                'cookie_lifetime' => 0,
                'cookie_path' => '/',
                'cookie_httponly' => 1,
                'cookie_samesite' => 'Lax',
                'cookie_secure' => $this->https ? 1 : 0,
                // Caching headers are set by Response (Cache-Control: no-store).
                'cache_limiter' => '',
            ]);
            if (!$ok) {
                throw new \RuntimeException('session_start() failed');
            }
        }
        $this->started = true;
    }

    /**
     * @return array{id: int, username: string}|null
     */
    public function user(): ?array
    {
        $this->start();
        if (!isset($_SESSION[self::KEY_USER_ID], $_SESSION[self::KEY_USERNAME])) {
            return null;
        }
        return ['id' => (int) $_SESSION[self::KEY_USER_ID], 'username' => (string) $_SESSION[self::KEY_USERNAME]];
    }

    public function logIn(int $userId, string $username): void
    {
        $this->start();
        // New session id on privilege change (session fixation).
        session_regenerate_id(true);
        $_SESSION[self::KEY_USER_ID] = $userId;
        $_SESSION[self::KEY_USERNAME] = $username;
        // Fresh CSRF token for the logged-in session.
        unset($_SESSION[self::KEY_CSRF]);
    }

    public function logOut(): void
    {
        $this->start();
        $_SESSION = [];
        $params = session_get_cookie_params();
        setcookie(self::COOKIE_NAME, '', [
            'expires' => time() - 3600,
            'path' => $params['path'],
            'domain' => $params['domain'],
            'secure' => $params['secure'],
            'httponly' => $params['httponly'],
            'samesite' => 'Lax',
        ]);
        session_destroy();
        $this->started = false;
    }

    public function csrfToken(): string
    {
        $this->start();
        if (!isset($_SESSION[self::KEY_CSRF]) || !is_string($_SESSION[self::KEY_CSRF])) {
            $_SESSION[self::KEY_CSRF] = bin2hex(random_bytes(32));
        }
        return $_SESSION[self::KEY_CSRF];
    }

    public function isValidCsrfToken(string $token): bool
    {
        $this->start();
        $expected = $_SESSION[self::KEY_CSRF] ?? null;
        return is_string($expected) && $token !== '' && hash_equals($expected, $token);
    }

    public function flash(string $message): void
    {
        $this->start();
        $_SESSION[self::KEY_FLASH] = $message;
    }

    public function takeFlash(): ?string
    {
        $this->start();
        $message = $_SESSION[self::KEY_FLASH] ?? null;
        unset($_SESSION[self::KEY_FLASH]);
        return is_string($message) ? $message : null;
    }
}

<?php

declare(strict_types=1);

namespace StackGuard\Http;

/**
 * The parts of the current HTTP request the application uses.
 */
final class Request
{
    public const MAX_BODY_BYTES = 65536;

    private string $method;

    private string $path;

    /** @var array<string, mixed> */
    private array $query;

    /** @var array<string, mixed> */
    private array $form;

    private bool $https;

    private ?string $body = null;

    /**
     * @param array<string, mixed> $query
     * @param array<string, mixed> $form
     */
    public function __construct(string $method, string $path, array $query, array $form, bool $https)
    {
        $this->method = strtoupper($method);
        $this->path = $path;
        $this->query = $query;
        $this->form = $form;
        $this->https = $https;
    }

    public static function fromGlobals(): self
    {
        $uri = isset($_SERVER['REQUEST_URI']) ? (string) $_SERVER['REQUEST_URI'] : '/';
        $path = parse_url($uri, PHP_URL_PATH);
        if (!is_string($path) || $path === '') {
            $path = '/';
        }
        if ($path === '/index.php') {
            $path = '/';
        }
        if (strlen($path) > 1) {
            $path = rtrim($path, '/');
            if ($path === '') {
                $path = '/';
            }
        }
        $https = (!empty($_SERVER['HTTPS']) && strtolower((string) $_SERVER['HTTPS']) !== 'off')
            || (isset($_SERVER['SERVER_PORT']) && (string) $_SERVER['SERVER_PORT'] === '443');

        return new self(
            isset($_SERVER['REQUEST_METHOD']) ? (string) $_SERVER['REQUEST_METHOD'] : 'GET',
            $path,
            $_GET,
            $_POST,
            $https
        );
    }

    public function method(): string
    {
        return $this->method;
    }

    public function path(): string
    {
        return $this->path;
    }

    public function isHttps(): bool
    {
        return $this->https;
    }

    public function isApi(): bool
    {
        return $this->path === '/api' || strncmp($this->path, '/api/', 5) === 0;
    }

    /**
     * A query-string parameter as a string, or null when absent or not a string.
     */
    public function queryString(string $name): ?string
    {
        $value = $this->query[$name] ?? null;
        return is_string($value) ? $value : null;
    }

    /**
     * A form field as a string ('' when absent or not a string).
     */
    public function formString(string $name): string
    {
        $value = $this->form[$name] ?? null;
        return is_string($value) ? $value : '';
    }

    /**
     * The raw request body, or null when it is larger than MAX_BODY_BYTES.
     */
    public function body(): ?string
    {
        if ($this->body === null) {
            $body = file_get_contents('php://input', false, null, 0, self::MAX_BODY_BYTES + 1);
            $this->body = $body === false ? '' : $body;
        }
        return strlen($this->body) > self::MAX_BODY_BYTES ? null : $this->body;
    }
}

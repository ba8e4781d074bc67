<?php

declare(strict_types=1);

namespace StackGuard\Http;

/**
 * An HTTP response built in memory and sent at once, so that an exception
 * while producing it never leaves a half-written page.
 */
final class Response
{
    private int $status;

    /** @var array<string, string> */
    private array $headers;

    private string $body;

    /**
     * @param array<string, string> $headers
     */
    public function __construct(int $status, array $headers, string $body)
    {
        $this->status = $status;
        $this->headers = $headers;
        $this->body = $body;
    }

    public static function html(string $html, int $status = 200): self
    {
        return new self($status, [
            'Content-Type' => 'text/html; charset=UTF-8',
            'Content-Security-Policy' => "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ], $html);
    }

    /**
     * @param mixed $data anything json_encode accepts
     */
    public static function json($data, int $status = 200): self
    {
        $json = json_encode(
            $data,
            JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR
        );
        return new self($status, ['Content-Type' => 'application/json'], $json . "\n");
    }

    public static function jsonError(string $message, int $status): self
    {
        return self::json(['error' => $message], $status);
    }

    /**
     * 303 See Other: the browser follows with a GET (post/redirect/get).
     */
    public static function redirect(string $location): self
    {
        return new self(303, ['Location' => $location, 'Content-Type' => 'text/plain; charset=UTF-8'], "See $location\n");
    }

    public function withHeader(string $name, string $value): self
    {
        $clone = clone $this;
        $clone->headers[$name] = $value;
        return $clone;
    }

    public function status(): int
    {
        return $this->status;
    }

    public function send(): void
    {
        if (!headers_sent()) {
            header_remove('X-Powered-By');
            http_response_code($this->status);
            $defaults = [
                'Cache-Control' => 'no-store',
                'X-Content-Type-Options' => 'nosniff',
                'X-Frame-Options' => 'DENY',
                'Referrer-Policy' => 'same-origin',
            ];
            foreach ($this->headers + $defaults as $name => $value) {
                header($name . ': ' . $value, true);
            }
        }
        echo $this->body;
    }
}

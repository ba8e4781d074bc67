<?php

declare(strict_types=1);

namespace StackGuard\Http;

/**
 * Exact-path router: (method, path) -> handler.
 */
final class Router
{
    /** @var array<string, array<string, callable>> path => method => handler */
    private array $routes = [];

    public function add(string $method, string $path, callable $handler): void
    {
        $this->routes[$path][strtoupper($method)] = $handler;
    }

    /**
     * The handler for the request; HEAD is served by the GET handler.
     *
     * @return array{0: string, 1: callable|null, 2: string[]} [outcome, handler, allowed methods]
     *         outcome is "found", "not_found" or "method_not_allowed"
     */
    public function match(Request $request): array
    {
        $path = $request->path();
        if (!isset($this->routes[$path])) {
            return ['not_found', null, []];
        }
        $methods = $this->routes[$path];
        $method = $request->method();
        if (isset($methods[$method])) {
            return ['found', $methods[$method], []];
        }
        if ($method === 'HEAD' && isset($methods['GET'])) {
            return ['found', $methods['GET'], []];
        }
        $allowed = array_keys($methods);
        if (in_array('GET', $allowed, true)) {
            $allowed[] = 'HEAD';
        }
        return ['method_not_allowed', null, $allowed];
    }
}

<?php

declare(strict_types=1);

namespace StackGuard;

/**
 * Plain PHP templates from templates/. Templates print values only through
 * $view->e(), which HTML-escapes them.
 */
final class View
{
    private string $directory;

    /** @var array<string, mixed> variables available to every template */
    private array $shared;

    /**
     * @param array<string, mixed> $shared
     */
    public function __construct(string $directory, array $shared = [])
    {
        $this->directory = $directory;
        $this->shared = $shared;
    }

    /**
     * @param array<string, mixed> $vars
     */
    public function render(string $template, array $vars = []): string
    {
        if (preg_match('/\A[a-z_]+\z/', $template) !== 1) {
            throw new \InvalidArgumentException(sprintf('invalid template name %s', $template));
        }
        $file = $this->directory . '/' . $template . '.php';
        $view = $this;
        $render = static function (string $__file, array $__vars) use ($view): string {
            extract($__vars, EXTR_SKIP);
            ob_start();
            try {
                require $__file;
            } catch (\Throwable $e) {
                ob_end_clean();
                throw $e;
            }
            return (string) ob_get_clean();
        };
        return $render($file, $vars + $this->shared);
    }

    /**
     * A full page: the template inside templates/layout.php.
     *
     * @param array<string, mixed> $vars
     */
    public function page(string $template, string $title, array $vars = []): string
    {
        $content = $this->render($template, $vars);
        return $this->render('layout', ['title' => $title, 'content' => $content] + $vars);
    }

    /**
     * HTML-escapes a scalar for element content and quoted attribute values.
     *
     * @param string|int|float|bool|null $value
     */
    public function e($value): string
    {
        return htmlspecialchars((string) $value, ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML5, 'UTF-8');
    }

    /**
     * "2024-05-01T12:34:56.123456Z" -> "2024-05-01 12:34 UTC".
     */
    public function time(string $iso): string
    {
        return $this->e(substr(str_replace('T', ' ', $iso), 0, 16) . ' UTC');
    }
}

package dev.blender.runtime.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class FrontierPlotTest {
    static Document parse(String svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    }

    static List<Element> byClass(Document d, String tag, String cls) {
        List<Element> out = new ArrayList<>();
        NodeList all = d.getElementsByTagNameNS("http://www.w3.org/2000/svg", tag);
        for (int i = 0; i < all.getLength(); i++) {
            Element e = (Element) all.item(i);
            if (List.of(e.getAttribute("class").split(" ")).contains(cls)) {
                out.add(e);
            }
        }
        return out;
    }

    @Test
    void everyPointWithItsIntervalTheFrontierJoinedAndTheChoiceRinged() throws Exception {
        List<Frontier.Point> points = List.of(FrontierTest.p("cheap", 60, 17, 2), FrontierTest.p("a<b & \"c\"", 80, 320, 40),
                FrontierTest.p("mid", 88, 120, 8), FrontierTest.p("strong", 93, 300, 30));
        Document d = parse(FrontierPlot.svg("arith3 & co", points, Cost.TOKENS, "mid"));
        List<Element> dots = byClass(d, "circle", "point");
        assertEquals(List.of("cheap", "a<b & \"c\"", "mid", "strong").stream().sorted().toList(),
                dots.stream().map(e -> e.getAttribute("data-name")).sorted().toList());
        assertEquals(List.of("cheap", "mid", "strong"), byClass(d, "circle", "frontier").stream()
                .map(e -> e.getAttribute("data-name")).toList());
        assertEquals(4, byClass(d, "line", "interval").size());
        Element line = byClass(d, "polyline", "frontier").get(0);
        assertEquals(3, line.getAttribute("points").split(" ").length);
        List<Element> chosen = byClass(d, "circle", "chosen");
        assertEquals(1, chosen.size());
        assertEquals("mid", chosen.get(0).getAttribute("data-name"));
        Element mid = dots.stream().filter(e -> e.getAttribute("data-name").equals("mid")).findFirst().orElseThrow();
        assertEquals(mid.getAttribute("cx"), chosen.get(0).getAttribute("cx"), "the ring is on the chosen dot");
        assertEquals("tokens per problem", byClass(d, "text", "x-label").get(0).getTextContent());
        assertTrue(byClass(d, "text", "y-label").get(0).getTextContent().startsWith("accuracy"));
        // more accurate is higher, dearer is further right
        Element cheap = dots.stream().filter(e -> e.getAttribute("data-name").equals("cheap")).findFirst().orElseThrow();
        assertTrue(Double.parseDouble(cheap.getAttribute("cy")) > Double.parseDouble(mid.getAttribute("cy")));
        assertTrue(Double.parseDouble(cheap.getAttribute("cx")) < Double.parseDouble(mid.getAttribute("cx")));
        assertTrue(mid.getTextContent().contains("accuracy 0.880"), "the tooltip gives the figures");
    }

    @Test
    void withoutAChoiceNothingIsRingedAndAnUnknownChoiceIsAnError() throws Exception {
        List<Frontier.Point> points = List.of(FrontierTest.p("x", 50, 10, 1));
        assertEquals(0, byClass(parse(FrontierPlot.svg("t", points, Cost.MILLIS, null)), "circle", "chosen").size());
        assertThrows(IllegalArgumentException.class, () -> FrontierPlot.svg("t", points, Cost.TOKENS, "y"));
        assertThrows(IllegalArgumentException.class, () -> FrontierPlot.svg("t", List.of(), Cost.TOKENS, null));
    }
}

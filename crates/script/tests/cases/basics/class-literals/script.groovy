[String.class.name, String.class.simpleName, Integer.class == Integer, 'x'.class == String.class,
 java.util.List.class.name, [1].getClass().name, String.class.toString(),
 [a: 1].getClass().simpleName, 5.class.name, 1.5.class.name, (1L).class.simpleName, Map.class.isInstance([:]),
 List.isInstance([1]), String.class.isInstance(3)]
